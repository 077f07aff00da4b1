"""The phone wallet's home: the bundled static files of ``wallet_spec/web/`` at ``/wallet/``, and
the card form of a wallet credential (``POST /wallet/card-form``)."""
