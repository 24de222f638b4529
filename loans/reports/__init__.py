"""Dashboard and report figures: the bank's report layouts by ward, organization, group and program."""
