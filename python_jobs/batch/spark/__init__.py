"""The batch computation and the daily job on Spark (DataFrame, SQL, RDD), with the session, landing validation,
checkpointed state and a local standalone cluster."""
