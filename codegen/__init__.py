"""The cambist generator: specs/ + codegen/ -> generated/cambist."""
