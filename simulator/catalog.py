"""The product master and the stores: categories with price levels, and products that go together.

Each product has a *partner* in a complementary category; a basket that holds a product adds its
partner with a fixed probability, which gives the product-affinity mart a real lift to find.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# category code -> (median list price at 1x, complementary category)
CATEGORIES = {
    "APPAREL": (35.0, "ACCESSORIES"),
    "FOOTWEAR": (70.0, "APPAREL"),
    "ACCESSORIES": (20.0, "APPAREL"),
    "HOME": (40.0, "KITCHEN"),
    "KITCHEN": (25.0, "GROCERY"),
    "BEAUTY": (18.0, "ACCESSORIES"),
    "ELECTRONICS": (120.0, "ACCESSORIES"),
    "TOYS": (22.0, "BOOKS"),
    "SPORTS": (45.0, "FOOTWEAR"),
    "BOOKS": (15.0, "TOYS"),
    "GROCERY": (8.0, "KITCHEN"),
    "GARDEN": (30.0, "HOME"),
}
PRODUCTS_PER_CATEGORY = 25
BRANDS = ["Northwind", "Acme", "Bluebird", "Summit", "Harbor", "Maple & Co", "Orbit", "Lumen",
          "Kestrel", "Tidewater"]
ADJECTIVES = ["Classic", "Everyday", "Premium", "Compact", "Deluxe", "Eco", "Urban", "Pro",
              "Soft", "Bright"]
NOUNS = {
    "APPAREL": ["T-Shirt", "Hoodie", "Jeans", "Jacket", "Dress"],
    "FOOTWEAR": ["Sneakers", "Boots", "Sandals", "Loafers", "Runners"],
    "ACCESSORIES": ["Belt", "Scarf", "Cap", "Wallet", "Sunglasses"],
    "HOME": ["Lamp", "Cushion", "Throw", "Vase", "Frame"],
    "KITCHEN": ["Pan", "Knife Set", "Mug", "Kettle", "Cutting Board"],
    "BEAUTY": ["Lotion", "Shampoo", "Lip Balm", "Serum", "Soap"],
    "ELECTRONICS": ["Headphones", "Charger", "Speaker", "Smartwatch", "Power Bank"],
    "TOYS": ["Puzzle", "Blocks", "Plush", "Board Game", "Kite"],
    "SPORTS": ["Yoga Mat", "Water Bottle", "Dumbbells", "Racket", "Backpack"],
    "BOOKS": ["Novel", "Cookbook", "Atlas", "Notebook", "Comic"],
    "GROCERY": ["Coffee", "Tea", "Chocolate", "Olive Oil", "Granola"],
    "GARDEN": ["Planter", "Hose", "Seeds", "Gloves", "Shears"],
}


def build_products(rng: np.random.Generator, price_scale: float, currency: str) -> pd.DataFrame:
    """One row per product with its latent popularity, quality and partner (index)."""
    cats = list(CATEGORIES)
    rows = []
    for ci, cat in enumerate(cats):
        median, _ = CATEGORIES[cat]
        for k in range(PRODUCTS_PER_CATEGORY):
            rows.append((ci, cat, k))
    df = pd.DataFrame(rows, columns=["category_idx", "category", "rank"])
    n = len(df)
    df["product_id"] = [f"SKU-{i + 1:05d}" for i in range(n)]
    brand = rng.choice(np.asarray(BRANDS, dtype=object), n)
    adj = rng.choice(np.asarray(ADJECTIVES, dtype=object), n)
    noun = [NOUNS[c][k % 5] for c, k in zip(df["category"], df["rank"], strict=True)]
    df["brand"] = brand
    df["product_name"] = brand + " " + adj + " " + pd.Series(noun, dtype=object)
    median = df["category"].map(lambda c: CATEGORIES[c][0]).to_numpy()
    price = median * np.exp(rng.normal(0.0, 0.45, n)) * price_scale
    df["unit_price"] = np.round(np.maximum(price, 1.0), 0) - 0.01
    df["unit_cost"] = np.round(df["unit_price"] * rng.uniform(0.35, 0.7, n), 2)
    df["currency"] = currency
    df["is_active"] = (rng.random(n) > 0.05).astype(int)
    # Zipf-like popularity within a category: rank 0 sells most.
    df["popularity"] = 1.0 / (df["rank"] + 1.0) ** 0.9
    df["quality"] = np.clip(rng.normal(4.1, 0.5, n), 2.0, 4.9)  # mean star rating
    comp = df["category"].map(lambda c: cats.index(CATEGORIES[c][1])).to_numpy()
    df["partner_idx"] = comp * PRODUCTS_PER_CATEGORY + rng.integers(0, 5, n)
    return df


def category_product_table(products: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per category: the product indices and their cumulative popularity (for sampling)."""
    n_cat = products["category_idx"].max() + 1
    idx = np.arange(len(products)).reshape(n_cat, PRODUCTS_PER_CATEGORY)
    w = products["popularity"].to_numpy().reshape(n_cat, PRODUCTS_PER_CATEGORY)
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    return idx, cum


def build_stores(pools: dict, country: str) -> pd.DataFrame:
    cities = list(pools["store_city"])
    rows = [(f"S{i + 1:03d}", f"{c} Store", c, country) for i, c in enumerate(cities)]
    rows.append(("WEB", "Web Shop", None, country))
    df = pd.DataFrame(rows, columns=["store_id", "store_name", "city", "country_code"])
    df["opened_days_before_start"] = [3650 - 200 * i for i in range(len(cities))] + [2000]
    return df
