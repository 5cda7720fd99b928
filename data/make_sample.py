"""Build the bundled sample: UCI Adult plus generated direct identifiers for the PII demo.

Run from the repository root: ``python data/make_sample.py SOURCE_CSV``. The identifiers
(name, email, SSN, phone, street address, customer id) are fabricated with Faker under a
fixed seed, so the output is reproducible and no identifier belongs to a real person.
"""

import sys
from pathlib import Path

import pandas as pd
from faker import Faker

SEED = 20261125


def main(source: str, target: str = "data/sample/adult_sample.csv") -> None:
    adult = pd.read_csv(source)
    fake = Faker("en_US")
    Faker.seed(SEED)
    n = len(adult)
    ids = pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i:07d}" for i in range(n)],
            "full_name": [fake.name() for _ in range(n)],
            "email": [fake.email() for _ in range(n)],
            "ssn": [fake.ssn() for _ in range(n)],
            "phone": [fake.numerify("(###) ###-####") for _ in range(n)],
            "street_address": [fake.street_address() for _ in range(n)],
        }
    )
    out = pd.concat([ids, adult], axis=1)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(target, index=False)


if __name__ == "__main__":
    main(*sys.argv[1:])
