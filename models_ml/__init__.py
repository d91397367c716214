"""customer360 models: plain pandas-in / pandas-out functions, no orchestration imports.

Modules: rfm (RFM scores and segments), segments (KMeans clusters), clv (BG/NBD + Gamma-Gamma),
churn (calibrated churn classifier with reasons), tracking (MLflow logging and registry),
config (defaults).
"""
