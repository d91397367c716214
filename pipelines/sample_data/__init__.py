"""Sample data generator: vendor-style exports and their ground truth (docs/sample_data.md).

    from pipelines.sample_data import generate, generate_increment
    generate(Path("data"), customers=20_000, seed=7, end_date=date(2026, 11, 15))
"""

from pipelines.sample_data.generator import generate, generate_increment

__all__ = ["generate", "generate_increment"]
