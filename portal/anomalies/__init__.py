"""What HQ finds wrong in uploaded transactions, and how auditors review sales and findings."""
