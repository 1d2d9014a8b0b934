"""Dashboard pages; each module holds a page and its state sits beside it."""
