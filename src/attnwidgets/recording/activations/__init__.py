"""Outputs of named modules (``modules``) and the residual stream per block (``residual``)."""
