"""Module 5: geospatial."""
