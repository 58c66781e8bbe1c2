"""Counting what readers read: page views, their stores, the Popular rankings, access logs and box clicks."""
