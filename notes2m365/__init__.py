"""notes2m365: migrate Lotus Notes / HCL Domino databases exported as DXL into Microsoft 365.

Flow: read (dxl) -> convert (richtext, mime) -> map -> plan -> execute -> verify.
"""

__version__ = "0.1.0"
