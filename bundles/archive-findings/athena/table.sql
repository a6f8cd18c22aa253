-- GuardDuty findings archived by guardform's archive-findings responder (one JSON finding per
-- object) and/or exported by GuardDuty itself to the same bucket and prefix.
--
-- guardform fills in the bucket and prefix (see bundles/README.md, "Athena"). The values of
-- projection.partition_account.values and projection.partition_region.values must list, comma-
-- separated, the accounts and Regions whose findings are archived; run the statement again (or
-- ALTER TABLE ... SET TBLPROPERTIES) when they change. ${partition_...} are Athena's own.
--
-- Columns are the finding's keys lowercased, as Athena names them; the OpenX JSON SerDe matches
-- them to the camelCase keys. Objects whose shape depends on the finding type (additionalinfo,
-- the Kubernetes/RDS/Lambda/ECS details) are strings holding their JSON: read them with
-- json_extract_scalar(). The partition columns are prefixed partition_ because accountid and
-- region are already columns; filter on them (partition_date above all) so that Athena reads
-- only the folders it needs.
CREATE EXTERNAL TABLE IF NOT EXISTS guardduty_findings (
  `schemaversion` string,
  `accountid` string,
  `region` string,
  `partition` string,
  `id` string,
  `arn` string,
  `type` string,
  `resource` struct<
    resourcetype: string,
    accesskeydetails: struct<accesskeyid: string, principalid: string, username: string, usertype: string>,
    instancedetails: struct<
      availabilityzone: string,
      iaminstanceprofile: struct<arn: string, id: string>,
      imagedescription: string,
      imageid: string,
      instanceid: string,
      instancestate: string,
      instancetype: string,
      outpostarn: string,
      launchtime: string,
      platform: string,
      networkinterfaces: array<struct<
        ipv6addresses: array<string>,
        networkinterfaceid: string,
        privatednsname: string,
        privateipaddress: string,
        privateipaddresses: array<struct<privatednsname: string, privateipaddress: string>>,
        publicdnsname: string,
        publicip: string,
        securitygroups: array<struct<groupid: string, groupname: string>>,
        subnetid: string,
        vpcid: string>>,
      productcodes: array<struct<productcodeid: string, productcodetype: string>>,
      tags: array<struct<key: string, value: string>>>,
    s3bucketdetails: array<struct<
      arn: string,
      name: string,
      type: string,
      createdat: string,
      owner: struct<id: string>,
      tags: array<struct<key: string, value: string>>,
      defaultserversideencryption: struct<encryptiontype: string, kmsmasterkeyarn: string>,
      publicaccess: struct<
        effectivepermission: string,
        permissionconfiguration: struct<
          bucketlevelpermissions: struct<
            accesscontrollist: struct<allowspublicreadaccess: boolean, allowspublicwriteaccess: boolean>,
            bucketpolicy: struct<allowspublicreadaccess: boolean, allowspublicwriteaccess: boolean>,
            blockpublicaccess: struct<blockpublicacls: boolean, blockpublicpolicy: boolean, ignorepublicacls: boolean, restrictpublicbuckets: boolean>>,
          accountlevelpermissions: struct<
            blockpublicaccess: struct<blockpublicacls: boolean, blockpublicpolicy: boolean, ignorepublicacls: boolean, restrictpublicbuckets: boolean>>>>>>,
    ebsvolumedetails: string,
    ecsclusterdetails: string,
    containerdetails: string,
    eksclusterdetails: string,
    kubernetesdetails: string,
    rdsdbinstancedetails: string,
    rdsdbuserdetails: string,
    lambdadetails: string>,
  `service` struct<
    servicename: string,
    detectorid: string,
    featurename: string,
    resourcerole: string,
    eventfirstseen: string,
    eventlastseen: string,
    archived: boolean,
    count: int,
    userfeedback: string,
    additionalinfo: string,
    evidence: struct<threatintelligencedetails: array<struct<threatlistname: string, threatnames: array<string>>>>,
    action: struct<
      actiontype: string,
      networkconnectionaction: struct<
        blocked: boolean,
        connectiondirection: string,
        protocol: string,
        localipdetails: struct<ipaddressv4: string, ipaddressv6: string>,
        localportdetails: struct<port: int, portname: string>,
        remoteportdetails: struct<port: int, portname: string>,
        remoteipdetails: struct<
          ipaddressv4: string,
          ipaddressv6: string,
          organization: struct<asn: string, asnorg: string, isp: string, org: string>,
          country: struct<countrycode: string, countryname: string>,
          city: struct<cityname: string>,
          geolocation: struct<lat: double, lon: double>>>,
      awsapicallaction: struct<
        api: string,
        servicename: string,
        callertype: string,
        errorcode: string,
        useragent: string,
        domaindetails: struct<domain: string>,
        remoteaccountdetails: struct<accountid: string, affiliated: boolean>,
        affectedresources: map<string, string>,
        remoteipdetails: struct<
          ipaddressv4: string,
          ipaddressv6: string,
          organization: struct<asn: string, asnorg: string, isp: string, org: string>,
          country: struct<countrycode: string, countryname: string>,
          city: struct<cityname: string>,
          geolocation: struct<lat: double, lon: double>>>,
      dnsrequestaction: struct<domain: string, domainwithsuffix: string, protocol: string, blocked: boolean>,
      portprobeaction: struct<
        blocked: boolean,
        portprobedetails: array<struct<
          localportdetails: struct<port: int, portname: string>,
          localipdetails: struct<ipaddressv4: string, ipaddressv6: string>,
          remoteipdetails: struct<
            ipaddressv4: string,
            ipaddressv6: string,
            organization: struct<asn: string, asnorg: string, isp: string, org: string>,
            country: struct<countrycode: string, countryname: string>,
            city: struct<cityname: string>,
            geolocation: struct<lat: double, lon: double>>>>>,
      kubernetesapicallaction: string,
      rdsloginattemptaction: string>>,
  `severity` double,
  `createdat` string,
  `updatedat` string,
  `title` string,
  `description` string
)
PARTITIONED BY (
  `partition_account` string,
  `partition_region` string,
  `partition_date` string
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'true')
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://{bucket}/{prefix}/AWSLogs/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.partition_account.type' = 'enum',
  'projection.partition_account.values' = '{accounts}',
  'projection.partition_region.type' = 'enum',
  'projection.partition_region.values' = '{regions}',
  'projection.partition_date.type' = 'date',
  'projection.partition_date.format' = 'yyyy/MM/dd',
  'projection.partition_date.range' = '2017/11/01,NOW',
  'projection.partition_date.interval' = '1',
  'projection.partition_date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://{bucket}/{prefix}/AWSLogs/${partition_account}/GuardDuty/${partition_region}/${partition_date}/'
);
