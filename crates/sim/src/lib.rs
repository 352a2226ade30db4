//! perpspread-sim: a local exchange simulator speaking OKX v5 and Binance USDⓈ-M wire protocols.
