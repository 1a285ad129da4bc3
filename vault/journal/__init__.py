"""The access journal: every deposit, read, search and denial is recorded through one seam."""
