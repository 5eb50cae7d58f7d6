"""The national status vocabulary (codes 1–10 of the public service portal) and its transitions.

"Quá hạn" (overdue) is not a status: it is derived from the appointment date, see `dossier.py`.
"""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    REGISTERED = 1  # Mới đăng ký
    RECEIVED = 2  # Được tiếp nhận
    REFUSED = 3  # Không được tiếp nhận
    PROCESSING = 4  # Đang xử lý
    SUPPLEMENT_REQUESTED = 5  # Yêu cầu bổ sung giấy tờ
    FEES_DUE = 6  # Yêu cầu thực hiện nghĩa vụ tài chính
    WITHDRAWN = 7  # Công dân yêu cầu rút hồ sơ
    STOPPED = 8  # Dừng xử lý
    DONE = 9  # Đã xử lý xong
    RETURNED = 10  # Đã trả kết quả

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def label_ascii(self) -> str:
        return LABELS_ASCII[self]


LABELS: dict[Status, str] = {
    Status.REGISTERED: "Mới đăng ký",
    Status.RECEIVED: "Được tiếp nhận",
    Status.REFUSED: "Không được tiếp nhận",
    Status.PROCESSING: "Đang xử lý",
    Status.SUPPLEMENT_REQUESTED: "Yêu cầu bổ sung giấy tờ",
    Status.FEES_DUE: "Yêu cầu thực hiện nghĩa vụ tài chính",
    Status.WITHDRAWN: "Công dân yêu cầu rút hồ sơ",
    Status.STOPPED: "Dừng xử lý",
    Status.DONE: "Đã xử lý xong",
    Status.RETURNED: "Đã trả kết quả",
}

LABELS_ASCII: dict[Status, str] = {
    Status.REGISTERED: "Moi dang ky",
    Status.RECEIVED: "Duoc tiep nhan",
    Status.REFUSED: "Khong duoc tiep nhan",
    Status.PROCESSING: "Dang xu ly",
    Status.SUPPLEMENT_REQUESTED: "Yeu cau bo sung giay to",
    Status.FEES_DUE: "Yeu cau thuc hien nghia vu tai chinh",
    Status.WITHDRAWN: "Cong dan yeu cau rut ho so",
    Status.STOPPED: "Dung xu ly",
    Status.DONE: "Da xu ly xong",
    Status.RETURNED: "Da tra ket qua",
}

S = Status
# Where a dossier may go from each status. Staying in the same status is always allowed (a note, or
# a handoff to another desk); it is not listed here.
ALLOWED: dict[Status, frozenset[Status]] = {
    S.REGISTERED: frozenset({S.RECEIVED, S.REFUSED, S.WITHDRAWN}),
    S.RECEIVED: frozenset(
        {S.PROCESSING, S.SUPPLEMENT_REQUESTED, S.FEES_DUE, S.WITHDRAWN, S.STOPPED, S.DONE}
    ),
    S.REFUSED: frozenset(),
    S.PROCESSING: frozenset({S.SUPPLEMENT_REQUESTED, S.FEES_DUE, S.WITHDRAWN, S.STOPPED, S.DONE}),
    S.SUPPLEMENT_REQUESTED: frozenset({S.PROCESSING, S.WITHDRAWN, S.STOPPED}),
    S.FEES_DUE: frozenset({S.PROCESSING, S.DONE, S.WITHDRAWN, S.STOPPED}),
    S.WITHDRAWN: frozenset({S.RETURNED, S.STOPPED}),
    S.STOPPED: frozenset({S.PROCESSING, S.RETURNED}),
    S.DONE: frozenset({S.RETURNED, S.PROCESSING}),
    S.RETURNED: frozenset(),
}

# Statuses that end lateness: the office no longer owes the citizen a result, so a dossier in
# one of them is never overdue, is not on the overdue list and is not counted as open by the
# charts, whatever SMS went out before. Each, and why:
#   3 refused    - never accepted: no result was ever owed;
#   7 withdrawn  - the citizen took the dossier back;
#   8 stopped    - processing ended (the reason goes to the citizen); 8 -> 4 reopens it;
#   9 done       - the result is ready: lateness ends when the office has finished, not when
#                  the citizen comes for the paper; 9 -> 4 (a correction) reopens it;
#   10 returned  - the result was handed over.
# Every other status (1, 2, 4, 5 supplement requested, 6 fees due) still owes a result and is
# overdue past the appointment; when the law gives the office more time (waiting for
# documents, for a fee) the department says so with a new appointment (an event's `due_at`).
SETTLED: frozenset[Status] = frozenset({S.REFUSED, S.WITHDRAWN, S.STOPPED, S.DONE, S.RETURNED})
FINAL: frozenset[Status] = frozenset(s for s, nxt in ALLOWED.items() if not nxt)


def can_move(current: Status, new: Status) -> bool:
    return new == current or new in ALLOWED[current]
