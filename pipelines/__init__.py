"""The conversion of tfrecords_tools as an Apache Beam pipeline (DirectRunner, Dataflow, Flink, Spark)."""
