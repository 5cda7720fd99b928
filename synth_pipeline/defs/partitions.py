import dagster as dg

# One partition per file that lands in the watched folder; the key is the file name.
data_drops = dg.DynamicPartitionsDefinition(name="data_drops")
