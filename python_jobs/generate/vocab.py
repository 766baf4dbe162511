"""Small built-in word lists for realistic-looking names and addresses (no faker dependency).

The lists are part of the output's definition: editing them changes every generated file, so append rather
than reorder. A few names carry accents or apostrophes on purpose: real data does, and so must the pipeline.
"""

from __future__ import annotations

import unicodedata

FIRST_NAMES: tuple[str, ...] = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Mia", "Mateo",
    "Amelia", "Ethan", "Harper", "James", "Zoë", "Aiden", "Chloé", "Omar", "Fatima", "Yusuf",
    "Aisha", "Wei", "Mei", "Hiroshi", "Yuki", "Priya", "Arjun", "Ananya", "Rohan", "Sofía",
    "José", "Lucía", "Diego", "Valentina", "Renée", "Björn", "Ingrid", "Lars", "Freya", "Kofi",
    "Amara", "Chidi", "Nia", "Malik", "Leila", "Dmitri", "Olga", "Tomasz", "Zofia", "Grace",
    "Daniel", "Hannah", "Samuel", "Isla", "Jack", "Ruby", "Oscar", "Ellie", "Thi", "Minh",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "García", "Miller", "Davis", "Rodríguez", "Martínez",
    "Hernández", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Nguyễn", "Tran", "Kim", "Park", "Chen", "Wang", "Li", "Tanaka", "Sato", "Patel",
    "Sharma", "Singh", "Khan", "Ahmed", "Hassan", "Okafor", "Mensah", "Adeyemi", "O'Brien", "O'Connor",
    "Murphy", "Kelly", "Müller", "Schmidt", "Schäfer", "Kowalski", "Nowak", "Ivanov", "Petrova", "Rossi",
    "Bianchi", "Dubois", "Lefèvre", "Silva", "Santos", "Van der Berg", "Jansen", "Larsen", "Nielsen", "Eriksson",
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Maple Street", "Oak Avenue", "Harbor Road", "Mill Lane", "Cedar Drive", "Station Road", "Park Avenue",
    "Church Street", "Willow Way", "Elm Street", "Bridge Street", "Riverside Drive", "Orchard Lane",
    "King Street", "Queen's Road", "High Street", "Chestnut Close", "Birch Grove", "Lakeview Terrace",
    "Hillcrest Road", "Meadow Lane", "Victoria Street", "Market Square", "Foundry Lane", "Canal Street",
    "Sunset Boulevard", "Pine Ridge Road", "Aspen Court", "Beacon Hill", "Harvest Avenue", "Lighthouse Road",
    "Tannery Row", "College Street", "Garden Walk", "Juniper Crescent", "North Parade", "Ferry Road",
    "Copper Street", "Rosewood Avenue", "Quarry Lane",
)  # fmt: skip

# The metro: a core city and its suburbs. Weights are the share of existing customers; the signup weights
# lean towards the newer suburbs, which is where a growing metro grows. Postal codes are `base + 0..39`.
CITIES: tuple[str, ...] = (
    "Aldren", "North Aldren", "Eastbrook", "Millhaven", "Cedar Falls",
    "Westgate", "Brookfield", "Lakeside", "Harbor Point", "Fairview",
)  # fmt: skip
CITY_WEIGHTS: tuple[float, ...] = (0.34, 0.11, 0.10, 0.08, 0.06, 0.09, 0.07, 0.05, 0.06, 0.04)
SIGNUP_CITY_WEIGHTS: tuple[float, ...] = (0.22, 0.09, 0.10, 0.07, 0.14, 0.07, 0.08, 0.13, 0.05, 0.05)
CITY_POSTAL_BASE: tuple[int, ...] = (40100, 40200, 40300, 40400, 40500, 40600, 40700, 40800, 40900, 41000)
POSTAL_CODES_PER_CITY = 40

# Email domains: the first half are correct, entry `i + len(EMAIL_DOMAINS)` of the typo list is a typo of
# entry `i`, which is what an `email_fix` change repairs.
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org", "mail.example.com")
EMAIL_DOMAIN_TYPOS: tuple[str, ...] = ("exmaple.com", "example.nett", "example.ogr", "mail.example.con")
ALL_EMAIL_DOMAINS: tuple[str, ...] = EMAIL_DOMAINS + EMAIL_DOMAIN_TYPOS

LOYALTY_TIERS: tuple[str, ...] = ("bronze", "silver", "gold", "platinum")
INITIAL_TIER_WEIGHTS: tuple[float, ...] = (0.55, 0.28, 0.12, 0.05)


def email_local_part(text: str) -> str:
    """`"Nguyễn"` -> `"nguyen"`, `"O'Brien"` -> `"obrien"`: mail systems of this upstream only take ASCII."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def street_address(house_number: int, street: int, apartment: int) -> str:
    """`apartment == 0` means a house; otherwise the address has a comma, so the CSV field gets quoted."""
    text = f"{house_number} {STREETS[street]}"
    return f"{text}, Apt {apartment}" if apartment else text


_FIRST_LOCAL = tuple(email_local_part(name) for name in FIRST_NAMES)
_LAST_LOCAL = tuple(email_local_part(name) for name in LAST_NAMES)


def email_address(first_name: int, last_name: int, number: int, domain: int) -> str:
    return f"{_FIRST_LOCAL[first_name]}.{_LAST_LOCAL[last_name]}{number}@{ALL_EMAIL_DOMAINS[domain]}"
