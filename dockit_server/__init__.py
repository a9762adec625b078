"""Dockit's HTTP server: a thin Falcon layer over libdockit."""
