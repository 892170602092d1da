//! SMPP 3.4 §5.1.3: command_status values.

/// The command_status of a response PDU (SMPP 3.4 §5.1.3, Table 5-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommandStatus {
    /// ESME_ROK 0x00: no error.
    Ok,
    /// ESME_RINVMSGLEN 0x01: message length is invalid.
    InvalidMessageLength,
    /// ESME_RINVCMDLEN 0x02: command length is invalid.
    InvalidCommandLength,
    /// ESME_RINVCMDID 0x03: invalid command id.
    InvalidCommandId,
    /// ESME_RINVBNDSTS 0x04: incorrect bind status for the command.
    IncorrectBindStatus,
    /// ESME_RALYBND 0x05: already bound.
    AlreadyBound,
    /// ESME_RSYSERR 0x08: system error.
    SystemError,
    /// ESME_RINVSRCADR 0x0A: invalid source address.
    InvalidSourceAddress,
    /// ESME_RINVDSTADR 0x0B: invalid destination address.
    InvalidDestinationAddress,
    /// ESME_RBINDFAIL 0x0D: bind failed.
    BindFailed,
    /// ESME_RINVPASWD 0x0E: invalid password.
    InvalidPassword,
    /// ESME_RINVSYSID 0x0F: invalid system id.
    InvalidSystemId,
    /// ESME_RMSGQFUL 0x14: message queue full.
    MessageQueueFull,
    /// ESME_RSUBMITFAIL 0x45: submit_sm failed.
    SubmitFailed,
    /// ESME_RTHROTTLED 0x58: throttling error (the ESME exceeded allowed message limits).
    Throttled,
    /// ESME_RINVOPTPARSTREAM 0xC0: error in the optional part of the PDU body.
    InvalidOptionalParameterStream,
    /// ESME_RINVPARLEN 0xC2: invalid parameter length.
    InvalidParameterLength,
    /// ESME_RX_T_APPN 0x64: ESME receiver temporary application error.
    TemporaryAppError,
    /// ESME_RX_P_APPN 0x65: ESME receiver permanent application error.
    PermanentAppError,
    /// ESME_RUNKNOWNERR 0xFF: unknown error.
    UnknownError,
    /// Any other value (reserved or vendor specific).
    Other(u32),
}

impl CommandStatus {
    /// The value on the wire.
    pub fn code(self) -> u32 {
        match self {
            CommandStatus::Ok => 0x00,
            CommandStatus::InvalidMessageLength => 0x01,
            CommandStatus::InvalidCommandLength => 0x02,
            CommandStatus::InvalidCommandId => 0x03,
            CommandStatus::IncorrectBindStatus => 0x04,
            CommandStatus::AlreadyBound => 0x05,
            CommandStatus::SystemError => 0x08,
            CommandStatus::InvalidSourceAddress => 0x0A,
            CommandStatus::InvalidDestinationAddress => 0x0B,
            CommandStatus::BindFailed => 0x0D,
            CommandStatus::InvalidPassword => 0x0E,
            CommandStatus::InvalidSystemId => 0x0F,
            CommandStatus::MessageQueueFull => 0x14,
            CommandStatus::SubmitFailed => 0x45,
            CommandStatus::Throttled => 0x58,
            CommandStatus::TemporaryAppError => 0x64,
            CommandStatus::PermanentAppError => 0x65,
            CommandStatus::InvalidOptionalParameterStream => 0xC0,
            CommandStatus::InvalidParameterLength => 0xC2,
            CommandStatus::UnknownError => 0xFF,
            CommandStatus::Other(v) => v,
        }
    }

    /// True when retrying later may succeed: throttling, full queue, system or temporary errors.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            CommandStatus::Throttled
                | CommandStatus::MessageQueueFull
                | CommandStatus::SystemError
                | CommandStatus::TemporaryAppError
        )
    }
}

impl From<u32> for CommandStatus {
    fn from(v: u32) -> Self {
        match v {
            0x00 => CommandStatus::Ok,
            0x01 => CommandStatus::InvalidMessageLength,
            0x02 => CommandStatus::InvalidCommandLength,
            0x03 => CommandStatus::InvalidCommandId,
            0x04 => CommandStatus::IncorrectBindStatus,
            0x05 => CommandStatus::AlreadyBound,
            0x08 => CommandStatus::SystemError,
            0x0A => CommandStatus::InvalidSourceAddress,
            0x0B => CommandStatus::InvalidDestinationAddress,
            0x0D => CommandStatus::BindFailed,
            0x0E => CommandStatus::InvalidPassword,
            0x0F => CommandStatus::InvalidSystemId,
            0x14 => CommandStatus::MessageQueueFull,
            0x45 => CommandStatus::SubmitFailed,
            0x58 => CommandStatus::Throttled,
            0x64 => CommandStatus::TemporaryAppError,
            0x65 => CommandStatus::PermanentAppError,
            0xC0 => CommandStatus::InvalidOptionalParameterStream,
            0xC2 => CommandStatus::InvalidParameterLength,
            0xFF => CommandStatus::UnknownError,
            other => CommandStatus::Other(other),
        }
    }
}

impl From<CommandStatus> for u32 {
    fn from(s: CommandStatus) -> u32 {
        s.code()
    }
}

impl std::fmt::Display for CommandStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?} ({:#04x})", self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_match_smpp_3_4_table_5_2() {
        assert_eq!(CommandStatus::Ok.code(), 0);
        assert_eq!(CommandStatus::Throttled.code(), 0x58);
        assert_eq!(CommandStatus::MessageQueueFull.code(), 0x14);
        for v in 0..=0x1FFu32 {
            assert_eq!(CommandStatus::from(v).code(), v);
        }
    }

    #[test]
    fn throttled_and_queue_full_are_transient_invalid_address_is_not() {
        assert!(CommandStatus::Throttled.is_transient());
        assert!(CommandStatus::MessageQueueFull.is_transient());
        assert!(!CommandStatus::InvalidDestinationAddress.is_transient());
    }
}
