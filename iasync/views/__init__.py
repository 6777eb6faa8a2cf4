"""Every output of iasync: the plan as text (`plan`), JSON (`plan_json`) and Markdown
(`markdown`); what apply says (`apply`); problems in account files (`problems`); the state
(`state`). JSON outputs are one object with `format_version` (`documents`)."""
