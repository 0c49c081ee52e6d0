"""The dashboard HQ users land on after signing in: counts of the chain's setup."""
