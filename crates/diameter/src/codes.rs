//! Numbers from RFC 6733 (base protocol) and 3GPP TS 29.328/29.329 (Sh): commands, applications, AVP codes,
//! Result-Codes.

/// 3GPP vendor id (TS 29.329 §6.3).
pub const VENDOR_3GPP: u32 = 10415;
/// Sh application id (TS 29.329 §7.1).
pub const APP_SH: u32 = 16_777_217;
/// Diameter common messages application id (RFC 6733 §2.4).
pub const APP_BASE: u32 = 0;

/// Capabilities-Exchange-Request/Answer (RFC 6733 §5.3).
pub const CMD_CAPABILITIES_EXCHANGE: u32 = 257;
/// Device-Watchdog-Request/Answer (RFC 6733 §5.5).
pub const CMD_DEVICE_WATCHDOG: u32 = 280;
/// Disconnect-Peer-Request/Answer (RFC 6733 §5.4).
pub const CMD_DISCONNECT_PEER: u32 = 282;
/// User-Data-Request/Answer (TS 29.329 §6.1.1–§6.1.2).
pub const CMD_USER_DATA: u32 = 306;

/// Host-IP-Address, Address (RFC 6733 §5.3.5).
pub const AVP_HOST_IP_ADDRESS: u32 = 257;
/// Auth-Application-Id, Unsigned32 (RFC 6733 §6.8).
pub const AVP_AUTH_APPLICATION_ID: u32 = 258;
/// Vendor-Specific-Application-Id, Grouped (RFC 6733 §6.11).
pub const AVP_VENDOR_SPECIFIC_APPLICATION_ID: u32 = 260;
/// Session-Id, UTF8String (RFC 6733 §8.8).
pub const AVP_SESSION_ID: u32 = 263;
/// Origin-Host, DiameterIdentity (RFC 6733 §6.3).
pub const AVP_ORIGIN_HOST: u32 = 264;
/// Supported-Vendor-Id, Unsigned32 (RFC 6733 §5.3.6).
pub const AVP_SUPPORTED_VENDOR_ID: u32 = 265;
/// Vendor-Id, Unsigned32 (RFC 6733 §5.3.3).
pub const AVP_VENDOR_ID: u32 = 266;
/// Result-Code, Unsigned32 (RFC 6733 §7.1).
pub const AVP_RESULT_CODE: u32 = 268;
/// Product-Name, UTF8String (RFC 6733 §5.3.7).
pub const AVP_PRODUCT_NAME: u32 = 269;
/// Disconnect-Cause, Enumerated (RFC 6733 §5.4.3).
pub const AVP_DISCONNECT_CAUSE: u32 = 273;
/// Auth-Session-State, Enumerated (RFC 6733 §8.11).
pub const AVP_AUTH_SESSION_STATE: u32 = 277;
/// Origin-State-Id, Unsigned32 (RFC 6733 §8.16).
pub const AVP_ORIGIN_STATE_ID: u32 = 278;
/// Error-Message, UTF8String (RFC 6733 §7.3).
pub const AVP_ERROR_MESSAGE: u32 = 281;
/// Destination-Realm, DiameterIdentity (RFC 6733 §6.6).
pub const AVP_DESTINATION_REALM: u32 = 283;
/// Destination-Host, DiameterIdentity (RFC 6733 §6.5).
pub const AVP_DESTINATION_HOST: u32 = 293;
/// Origin-Realm, DiameterIdentity (RFC 6733 §6.4).
pub const AVP_ORIGIN_REALM: u32 = 296;
/// Experimental-Result, Grouped (RFC 6733 §7.6).
pub const AVP_EXPERIMENTAL_RESULT: u32 = 297;
/// Experimental-Result-Code, Unsigned32 (RFC 6733 §7.7).
pub const AVP_EXPERIMENTAL_RESULT_CODE: u32 = 298;
/// Public-Identity, UTF8String, vendor 3GPP (TS 29.329 §6.3.2 / TS 29.229 §6.3.2).
pub const AVP_PUBLIC_IDENTITY: u32 = 601;
/// User-Identity, Grouped, vendor 3GPP (TS 29.329 §6.3.1).
pub const AVP_USER_IDENTITY: u32 = 700;
/// MSISDN, OctetString in TBCD, vendor 3GPP (TS 29.329 §6.3.2).
pub const AVP_MSISDN: u32 = 701;
/// User-Data, OctetString holding Sh-Data XML, vendor 3GPP (TS 29.329 §6.3.3).
pub const AVP_USER_DATA: u32 = 702;
/// Data-Reference, Enumerated, vendor 3GPP (TS 29.329 §6.3.4).
pub const AVP_DATA_REFERENCE: u32 = 703;

/// Auth-Session-State NO_STATE_MAINTAINED (RFC 6733 §8.11), what Sh uses (TS 29.329 §6.1).
pub const NO_STATE_MAINTAINED: u32 = 1;

/// DIAMETER_SUCCESS (RFC 6733 §7.1.2).
pub const DIAMETER_SUCCESS: u32 = 2001;
/// DIAMETER_UNABLE_TO_DELIVER (RFC 6733 §7.1.3).
pub const DIAMETER_UNABLE_TO_DELIVER: u32 = 3002;
/// DIAMETER_TOO_BUSY (RFC 6733 §7.1.3).
pub const DIAMETER_TOO_BUSY: u32 = 3004;
/// DIAMETER_UNKNOWN_PEER (RFC 6733 §7.1.3).
pub const DIAMETER_UNKNOWN_PEER: u32 = 3010;
/// DIAMETER_MISSING_AVP (RFC 6733 §7.1.5).
pub const DIAMETER_MISSING_AVP: u32 = 5005;
/// DIAMETER_NO_COMMON_APPLICATION (RFC 6733 §7.1.5).
pub const DIAMETER_NO_COMMON_APPLICATION: u32 = 5010;
/// DIAMETER_UNSUPPORTED_VERSION (RFC 6733 §7.1.5).
pub const DIAMETER_UNSUPPORTED_VERSION: u32 = 5011;
/// DIAMETER_UNABLE_TO_COMPLY (RFC 6733 §7.1.5).
pub const DIAMETER_UNABLE_TO_COMPLY: u32 = 5012;
/// DIAMETER_INVALID_AVP_LENGTH (RFC 6733 §7.1.5).
pub const DIAMETER_INVALID_AVP_LENGTH: u32 = 5014;
/// DIAMETER_INVALID_MESSAGE_LENGTH (RFC 6733 §7.1.5).
pub const DIAMETER_INVALID_MESSAGE_LENGTH: u32 = 5015;
/// DIAMETER_ERROR_USER_UNKNOWN, Experimental-Result-Code (TS 29.329 §6.2.2.1).
pub const DIAMETER_ERROR_USER_UNKNOWN: u32 = 5001;
/// DIAMETER_USER_DATA_NOT_AVAILABLE, Experimental-Result-Code (TS 29.329 §6.2.3.1).
pub const DIAMETER_USER_DATA_NOT_AVAILABLE: u32 = 4100;
