"""Email-domain rules for matching people to companies. Pure: no ORM, no settings."""

from __future__ import annotations

from collections.abc import Iterable

# Consumer mailbox providers: an address here says nothing about the person's employer.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
        "ymail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com",
        "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "protonmail.com", "proton.me",
        "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "yandex.com",
        "yandex.ru", "mail.ru", "qq.com", "163.com", "126.com", "zoho.com", "fastmail.com",
        "tutanota.com", "hey.com", "rediffmail.com", "libero.it", "orange.fr", "free.fr",
        "t-online.de", "btinternet.com", "comcast.net", "verizon.net", "att.net",
    }
)  # fmt: skip

# Second-level labels under which a registrable name sits one level deeper (acme.co.uk).
_COMPOUND_SUFFIXES: frozenset[str] = frozenset(
    {"co.uk", "ac.uk", "org.uk", "gov.uk", "com.au", "edu.au", "co.jp", "ac.jp", "co.nz",
     "com.br", "com.mx", "co.in", "ac.in", "com.sg", "co.za", "com.cn", "edu.cn"}
)  # fmt: skip


class InvalidEmail(ValueError):
    pass


def normalise_domain(value: str) -> str:
    """Lower-case a domain or URL host and drop "www." and any trailing dot."""
    domain = value.strip().lower()
    if "://" in domain:
        domain = domain.split("://", 1)[1]
    domain = domain.split("/", 1)[0].split(":", 1)[0].rstrip(".")
    if domain.startswith("www."):
        domain = domain[4:]
    return domain


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    local, sep, domain = email.rpartition("@")
    if not sep or not local or "." not in domain:
        raise InvalidEmail(f"{value!r} is not an email address.")
    return f"{local}@{normalise_domain(domain)}"


def email_domain(email: str) -> str:
    return normalise_domain(email.rsplit("@", 1)[-1])


def is_free_mail(domain: str, extra: Iterable[str] = ()) -> bool:
    domain = normalise_domain(domain)
    return domain in FREE_MAIL_DOMAINS or domain in {normalise_domain(d) for d in extra}


def domain_candidates(domain: str) -> list[str]:
    """The domain and each parent that could be a company's own, most specific first.

    `eu.sales.acme.com` gives `eu.sales.acme.com`, `sales.acme.com`, `acme.com`; the public
    suffix (`com`, `co.uk`) is never a candidate.
    """
    labels = normalise_domain(domain).split(".")
    minimum = 3 if ".".join(labels[-2:]) in _COMPOUND_SUFFIXES else 2
    return [".".join(labels[i:]) for i in range(0, len(labels) - minimum + 1)]
