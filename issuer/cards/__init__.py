"""The printed card: a CR80 card at 300 dpi with its QR (PNG or PDF), and A4 sheets of cards."""
