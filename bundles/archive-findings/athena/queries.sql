-- Example queries over the guardduty_findings table of table.sql (no placeholders here).
--
-- A finding is archived again each day GuardDuty updates it, so the table can hold several
-- versions of one finding id: the queries keep the latest version (highest updatedat) of each.
-- Every query limits partition_date so that Athena reads only the last 30 days of folders.

-- 1. Findings of the last 30 days by severity level (GuardDuty's ranges: Low 1-3.9,
--    Medium 4-6.9, High 7-8.9, Critical 9-10).
WITH latest AS (
  SELECT *, row_number() OVER (PARTITION BY id ORDER BY updatedat DESC) AS version
  FROM guardduty_findings
  WHERE partition_date >= date_format(current_date - interval '30' day, '%Y/%m/%d')
)
SELECT
  CASE
    WHEN severity >= 9 THEN 'CRITICAL'
    WHEN severity >= 7 THEN 'HIGH'
    WHEN severity >= 4 THEN 'MEDIUM'
    ELSE 'LOW'
  END AS severity_level,
  count(*) AS findings,
  count(DISTINCT accountid) AS accounts
FROM latest
WHERE version = 1
GROUP BY 1
ORDER BY min(severity) DESC;

-- 2. Findings of the last 30 days by action type and finding type.
WITH latest AS (
  SELECT *, row_number() OVER (PARTITION BY id ORDER BY updatedat DESC) AS version
  FROM guardduty_findings
  WHERE partition_date >= date_format(current_date - interval '30' day, '%Y/%m/%d')
)
SELECT
  service.action.actiontype AS action_type,
  type,
  count(*) AS findings,
  max(severity) AS highest_severity
FROM latest
WHERE version = 1
GROUP BY 1, 2
ORDER BY findings DESC;

-- 3. Remote countries and IP addresses of the last 30 days. The remote party sits under a
--    different parent per action type (none for DNS_REQUEST); a port probe can name several.
WITH latest AS (
  SELECT *, row_number() OVER (PARTITION BY id ORDER BY updatedat DESC) AS version
  FROM guardduty_findings
  WHERE partition_date >= date_format(current_date - interval '30' day, '%Y/%m/%d')
),
remote AS (
  SELECT id, type, severity, service.action.networkconnectionaction.remoteipdetails AS ip
  FROM latest WHERE version = 1 AND service.action.networkconnectionaction.remoteipdetails IS NOT NULL
  UNION ALL
  SELECT id, type, severity, service.action.awsapicallaction.remoteipdetails
  FROM latest WHERE version = 1 AND service.action.awsapicallaction.remoteipdetails IS NOT NULL
  UNION ALL
  SELECT id, type, severity, probe.remoteipdetails
  FROM latest
  CROSS JOIN UNNEST(service.action.portprobeaction.portprobedetails) AS t (probe)
  WHERE version = 1
)
SELECT
  coalesce(ip.country.countryname, 'unknown') AS country,
  count(DISTINCT id) AS findings,
  count(DISTINCT coalesce(ip.ipaddressv4, ip.ipaddressv6)) AS remote_ips,
  max(severity) AS highest_severity,
  array_join(slice(array_agg(DISTINCT coalesce(ip.ipaddressv4, ip.ipaddressv6)), 1, 5), ', ') AS example_ips
FROM remote
GROUP BY 1
ORDER BY findings DESC;

-- 4. High and critical findings of one account in the last 7 days, newest first, with the
--    affected instance or access key.
SELECT
  updatedat,
  severity,
  type,
  title,
  resource.instancedetails.instanceid AS instance_id,
  resource.accesskeydetails.accesskeyid AS access_key_id,
  service.count AS times_seen
FROM guardduty_findings
WHERE partition_account = '123456789012'
  AND partition_date >= date_format(current_date - interval '7' day, '%Y/%m/%d')
  AND severity >= 7
ORDER BY updatedat DESC
LIMIT 100;
