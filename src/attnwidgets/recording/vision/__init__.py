"""Images in (``images``: what a user holds to ``pixel_values`` and back) and the layout of a
vision transformer read from its own modules (``layout``: patches, specials, Swin windows)."""
