"""What each dashboard role may do, and over which offices: the one table every view asks
(`gateway.http.admin_auth.require` and `visible_offices`), the CLI and the account pages too.

- An account has a role and an office: an office id, or `PROVINCE` ("*") for the whole province.
  A province administrator is always of the province; an office administrator always of one
  office; a leader or a viewer of one office or of the province.
- `may(role, permission)` says what a role may do at all; `visible_offices(role, office)` over
  which offices it may do it: None for every office (and the province's shared modem pool, whose
  office is ""), else the one office.
- An office administrator manages the accounts of its own office, below a province
  administrator (`may_manage`); only a province administrator manages offices, routing rules and
  the province's templates.
- Accounts stored before roles had offices were "admin" or "viewer" with no office: "admin"
  reads as a province administrator, and an account with no office is of the province (so a
  viewer keeps seeing what it saw, and nobody gains a right on upgrade).
"""

from __future__ import annotations

from enum import StrEnum

from gateway.core.errors import CoreError

PROVINCE = "*"  # an account's office: the whole province
SHARED_POOL = ""  # a modem's office: the province's shared pool (seen by province roles only)


class Role(StrEnum):
    PROVINCE_ADMIN = "province-admin"  # everything, every office; offices and accounts
    OFFICE_ADMIN = "office-admin"  # its office: modems, stations, keys, accounts below it
    LEADER = "leader"  # reads its office's (or the province's) dossiers, charts, overdue
    VIEWER = "viewer"  # reads its office's dossiers, messages and setup, changes nothing
    ADMIN = "province-admin"  # the role's name before offices (an alias, same value)

    @classmethod
    def _missing_(cls, value: object) -> Role | None:
        return cls.PROVINCE_ADMIN if value == "admin" else None  # stored before offices


class Permission(StrEnum):
    READ_DOSSIERS = "read-dossiers"  # dossiers, their history, overdue ones
    READ_CHARTS = "read-charts"  # the leaders' charts (and, for province roles, the province)
    READ_MESSAGES = "read-messages"  # the SMS sent about dossiers
    READ_SETUP = "read-setup"  # modems, carrier links, templates, keys, stations
    CHANGE_MODEMS = "change-modems"  # disable, caps, un-quarantine: of the visible modems
    CHANGE_SETUP = "change-setup"  # stations and API keys of the visible offices
    CHANGE_TEMPLATES = "change-templates"  # the province's SMS templates (and every office's)
    CHANGE_OFFICE_TEMPLATES = "change-office-templates"  # its own office's overrides
    RESEND = "resend"  # re-queue a failed SMS of a visible dossier
    MANAGE_ACCOUNTS = "manage-accounts"  # reset passwords of the accounts it manages
    MANAGE_OFFICES = "manage-offices"  # create and edit offices
    MANAGE_ROUTES = "manage-routes"  # routing rules: which sender every citizen sees


READS = frozenset(
    {
        Permission.READ_DOSSIERS,
        Permission.READ_CHARTS,
        Permission.READ_MESSAGES,
        Permission.READ_SETUP,
    }
)
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PROVINCE_ADMIN: frozenset(Permission),
    Role.OFFICE_ADMIN: READS
    | {
        Permission.CHANGE_MODEMS,
        Permission.CHANGE_SETUP,
        Permission.CHANGE_OFFICE_TEMPLATES,
        Permission.RESEND,
        Permission.MANAGE_ACCOUNTS,
    },
    Role.LEADER: frozenset({Permission.READ_DOSSIERS, Permission.READ_CHARTS}),
    Role.VIEWER: READS,
}
RANK = {Role.PROVINCE_ADMIN: 3, Role.OFFICE_ADMIN: 2, Role.LEADER: 1, Role.VIEWER: 1}
LABELS = {
    Role.PROVINCE_ADMIN: "quản trị",  # of the province: the role before offices
    Role.OFFICE_ADMIN: "quản trị bộ phận",
    Role.LEADER: "lãnh đạo",
    Role.VIEWER: "chỉ xem",
}


class InvalidScope(CoreError):
    """A role and an office an account cannot have together (the message says why)."""


def may(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def may_change_templates(role: Role, templates_office: str) -> bool:
    """Whether `role` may change the templates of `templates_office` ("" : the province's, which
    every office without an override uses); the office is one the account sees (checked
    before)."""
    if may(role, Permission.CHANGE_TEMPLATES):
        return True
    return bool(templates_office) and may(role, Permission.CHANGE_OFFICE_TEMPLATES)


def is_province(office: str) -> bool:
    return office == PROVINCE


def visible_offices(role: Role, office: str) -> frozenset[str] | None:
    """The offices an account of `role` and `office` sees: None for all of them (and the
    shared pool), else a frozenset of office ids."""
    if role is Role.PROVINCE_ADMIN or is_province(office):
        return None
    return frozenset({office})


def sees(visible: frozenset[str] | None, office: str) -> bool:
    """Whether an object of `office` ("" : the province's shared pool) is visible."""
    return visible is None or office in visible


def check_scope(role: Role, office: str) -> str:
    """`office` if an account of `role` may have it (an office id checked to exist by the
    caller, or `PROVINCE`), else `InvalidScope`."""
    if role is Role.PROVINCE_ADMIN and not is_province(office):
        raise InvalidScope("a province administrator is of the whole province (office '*')")
    if role is Role.OFFICE_ADMIN and is_province(office):
        raise InvalidScope("an office administrator needs an office (--office ID)")
    if not office:
        raise InvalidScope("an account needs an office id, or '*' for the province")
    return office


def may_manage(role: Role, office: str, target_role: Role, target_office: str) -> bool:
    """Whether an account of `role`/`office` may manage (reset the password of) an account of
    `target_role`/`target_office`: a province administrator any; an office administrator those
    of its own office below a province administrator; nobody else anyone."""
    if not may(role, Permission.MANAGE_ACCOUNTS):
        return False
    if role is Role.PROVINCE_ADMIN:
        return True
    return target_office == office and RANK[target_role] < RANK[Role.PROVINCE_ADMIN]
