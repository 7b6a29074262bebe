"""The subscriber check's tail, one module per stage: fetch → analyse → announce (issue 24).

They run in one function, FetchReport: as separate states they would cost ~14% more a check, ten more
history events and two cold starts, and move the work directory through S3.
"""
