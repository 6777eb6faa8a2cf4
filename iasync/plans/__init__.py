"""Plans: the account files matched to the last-applied state (`plan`), how two bodies differ
(`diff`), and the saved plan file with its freshness check (`planfile`)."""
