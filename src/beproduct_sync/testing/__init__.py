"""Test, demo and benchmark support shipped with the package: the fake BeProduct API, load
generators and fault injection. Runtime code never imports this package (an import contract
checks it); only the composition root may wire a fault in."""
