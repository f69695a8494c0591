"""Accounts: sign-up and sign-in (django-allauth), the profile page and the player's settings."""
