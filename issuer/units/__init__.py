"""Medical units and their availability: each institution's signed feed, and a holder's search."""
