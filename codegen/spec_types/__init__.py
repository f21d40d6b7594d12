"""The spec loader's typed shapes, generated from specs/schema/ by datamodel-code-generator
(``python -m codegen schema``)."""
