"""The bundled legacy database and redesigned target, modelled on the seed's migrations."""
