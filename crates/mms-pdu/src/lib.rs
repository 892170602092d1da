//! MMS ENC 1.3 PDU codec (OMA-TS-MMS_ENC-V1_3): WSP primitives, every PDU type, multipart. Sans-IO.
#![forbid(unsafe_code)]
