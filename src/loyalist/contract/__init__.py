"""The data contract (what a business can provide) and its generated documentation."""

from loyalist.contract.schema import TABLES, Column, Table, get_table

__all__ = ["TABLES", "Column", "Table", "get_table"]
