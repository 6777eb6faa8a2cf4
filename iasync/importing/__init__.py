"""Writing account files from what exists elsewhere: a `$batchUpsert` request body
(`from_request`); LUSID itself is to come (`iasync import` without `--from-request`)."""
