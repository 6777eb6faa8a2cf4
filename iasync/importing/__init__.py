"""Writing account files from what exists elsewhere: LUSID itself (`from_lusid`, `iasync import`)
or a `$batchUpsert` request body (`from_request`, `iasync import --from-request FILE`)."""
