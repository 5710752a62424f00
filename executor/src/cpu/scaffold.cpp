// Scaffolding.
