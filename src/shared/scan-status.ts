// GuardDuty's verdict on an uploaded object, as tags it writes on the object ("Monitoring S3
// object scans with GuardDuty managed tags", GuardDuty User Guide,
// https://docs.aws.amazon.com/guardduty/latest/ug/monitor-enable-s3-object-tagging-malware-protection.html),
// shared by the construct (which lets the edge read an upload only once it is tagged clean) and
// the local deployment (which mirrors that policy).

/** The tag GuardDuty writes on each object it scanned. */
export const SCAN_STATUS_TAG = 'GuardDutyMalwareScanStatus';

/** The tag's value for an object in which GuardDuty found no threat. */
export const NO_THREATS_FOUND = 'NO_THREATS_FOUND';

/** The policy condition key of that tag on an existing object ("Amazon S3 condition keys"). */
export const SCAN_STATUS_CONDITION_KEY = `s3:ExistingObjectTag/${SCAN_STATUS_TAG}`;
