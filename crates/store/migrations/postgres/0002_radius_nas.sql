-- mmsrelay store schema v2: the NAS that reported each RADIUS binding (the RADIUS client's source
-- address, NAS-IP-Address / NAS-IPv6-Address, NAS-Identifier; RFC 2865 §5.4, §5.32, RFC 3162 §2.1),
-- so that its Accounting-On/Off (RFC 2866 §5.1) clears them. NULL: stored by schema 1, NAS unknown.
-- Same SQL on both back ends; keep ../sqlite and ../postgres in step.
ALTER TABLE radius_binding ADD COLUMN nas_client TEXT;
ALTER TABLE radius_binding ADD COLUMN nas_ip TEXT;
ALTER TABLE radius_binding ADD COLUMN nas_identifier TEXT;
CREATE INDEX radius_binding_nas ON radius_binding (nas_client);
