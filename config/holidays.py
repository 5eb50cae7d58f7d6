"""Vietnam's days off for state offices, 2025–2027: the default of `[calendar]` (see
`gateway/core/workdays.py`). Only days that would otherwise be working days are listed.

The Labour Code fixes the public holidays (Tết Dương lịch, Tết Nguyên đán, Giỗ Tổ Hùng Vương,
30/4, 1/5, Quốc khánh 2/9 and an adjacent day), but the government announces each year which
days civil servants are off for Tết and the long weekends, and which Saturday is worked in
exchange (làm bù). Operators: when the year's announcement comes (usually in the autumn before),
set `[calendar] holidays` and `working_days` in hoso.toml from it; a list there replaces this one.
Years after 2027 have no days off here at all until someone adds them.
"""

from __future__ import annotations

# (date, what it is); weekdays only.
HOLIDAYS: tuple[tuple[str, str], ...] = (
    ("2025-01-01", "Tết Dương lịch"),
    ("2025-01-27", "Tết Nguyên đán Ất Tỵ (28 tháng Chạp)"),
    ("2025-01-28", "Tết Nguyên đán Ất Tỵ (29 tháng Chạp)"),
    ("2025-01-29", "Tết Nguyên đán Ất Tỵ (mùng 1)"),
    ("2025-01-30", "Tết Nguyên đán Ất Tỵ (mùng 2)"),
    ("2025-01-31", "Tết Nguyên đán Ất Tỵ (mùng 3)"),
    ("2025-04-07", "Giỗ Tổ Hùng Vương (10/3 âm lịch)"),
    ("2025-04-30", "Ngày Giải phóng miền Nam"),
    ("2025-05-01", "Ngày Quốc tế Lao động"),
    ("2025-05-02", "nghỉ hoán đổi, làm bù thứ Bảy 26/04/2025"),
    ("2025-09-01", "Quốc khánh (ngày liền kề)"),
    ("2025-09-02", "Quốc khánh"),
    ("2026-01-01", "Tết Dương lịch"),
    ("2026-01-02", "nghỉ hoán đổi, làm bù thứ Bảy 10/01/2026"),
    ("2026-02-16", "Tết Nguyên đán Bính Ngọ (29 tháng Chạp)"),
    ("2026-02-17", "Tết Nguyên đán Bính Ngọ (mùng 1)"),
    ("2026-02-18", "Tết Nguyên đán Bính Ngọ (mùng 2)"),
    ("2026-02-19", "Tết Nguyên đán Bính Ngọ (mùng 3)"),
    ("2026-02-20", "Tết Nguyên đán Bính Ngọ (mùng 4)"),
    ("2026-04-27", "Giỗ Tổ Hùng Vương (nghỉ bù cho Chủ nhật 26/04)"),
    ("2026-04-30", "Ngày Giải phóng miền Nam"),
    ("2026-05-01", "Ngày Quốc tế Lao động"),
    ("2026-08-31", "nghỉ hoán đổi, làm bù thứ Bảy 22/08/2026"),
    ("2026-09-01", "Quốc khánh (ngày liền kề)"),
    ("2026-09-02", "Quốc khánh"),
    ("2026-11-24", "Ngày Văn hóa Việt Nam (Nghị quyết 80-NQ/TW; bỏ đi nếu chưa được nghỉ)"),
    ("2027-01-01", "Tết Dương lịch"),
    # Tết Đinh Mùi (mùng 1 = Saturday 06/02/2027): not announced yet; five days and the two
    # days in lieu of the weekend, as the Labour Code would give them. Replace when announced.
    ("2027-02-04", "Tết Nguyên đán Đinh Mùi (dự kiến)"),
    ("2027-02-05", "Tết Nguyên đán Đinh Mùi (dự kiến)"),
    ("2027-02-08", "Tết Nguyên đán Đinh Mùi (dự kiến)"),
    ("2027-02-09", "Tết Nguyên đán Đinh Mùi (dự kiến)"),
    ("2027-02-10", "Tết Nguyên đán Đinh Mùi (dự kiến)"),
    ("2027-04-16", "Giỗ Tổ Hùng Vương (10/3 âm lịch)"),
    ("2027-04-30", "Ngày Giải phóng miền Nam"),
    ("2027-05-03", "Ngày Quốc tế Lao động (nghỉ bù cho thứ Bảy 01/05)"),
    ("2027-09-02", "Quốc khánh"),
    ("2027-09-03", "Quốc khánh (ngày liền kề, dự kiến)"),
    ("2027-11-24", "Ngày Văn hóa Việt Nam (bỏ đi nếu chưa được nghỉ)"),
)

# Weekend days worked in exchange for a day off above (ngày làm bù).
WORKING_DAYS: tuple[tuple[str, str], ...] = (
    ("2025-04-26", "làm bù cho 02/05/2025"),
    ("2026-01-10", "làm bù cho 02/01/2026"),
    ("2026-08-22", "làm bù cho 31/08/2026"),
)
