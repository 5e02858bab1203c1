"""The ground floor: what every layer above may import and what imports nothing above it.

Errors, settings, the domain catalog (parameters, units, ranges, network), the dataset
contracts, the writer lock and small file checks. Layers, each importing only downwards
(tests/test_layers.py enforces it in CI)::

    aircarbon.core
      -> ingest, transforms, warehouse, expectations
        -> aircarbon.pipeline, aircarbon.bulletin
          -> aircarbon.commands / aircarbon.cli, dags

The simulator is a client of the system: nothing in production imports it.
"""
