"""The privacy center and the public privacy pages, with their API: screens that compose
privacy, accounts and the recommender for the reader."""
