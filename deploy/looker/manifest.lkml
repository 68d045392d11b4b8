# The LookML project's manifest: the BigQuery dataset the medallion pipeline writes to
# (`--warehouse=bigquery://PROJECT/DATASET`). The connection's project is used for the tables.
project_name: "tidemark"

constant: dataset {
  value: "tidemark"
  export: override_optional
}
