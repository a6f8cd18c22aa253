//! Reads every filter of the administrator's detector in every targeted Region (whether or not
//! the manifest names it: what guardform owns is found by its tag).

use super::criteria;
use super::state::{FilterState, FiltersState, RegionFilters};
use crate::cloud::aws::{Aws, AwsError};
use crate::kinds::Context;

/// Reads the filters of every targeted Region, at most `parallelism` Regions at once.
pub async fn read(context: &Context) -> Result<FiltersState, AwsError> {
    let (aws, admin) = (
        context.aws.as_ref(),
        context.discovery.delegated_admin.as_str(),
    );
    Ok(FiltersState {
        regions: crate::kinds::each_region(context, |region| read_region(aws, admin, region))
            .await?,
    })
}

async fn read_region(aws: &Aws, admin: &str, region: &str) -> Result<RegionFilters, AwsError> {
    let Some(detector_id) = aws.detector_id(admin, region).await? else {
        return Ok(RegionFilters::default());
    };
    let client = aws.guardduty(admin, region);
    let context = format!("{admin}/{region}");
    let mut names = Vec::new();
    let mut pages = client
        .list_filters()
        .detector_id(&detector_id)
        .max_results(50)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new(format!("listing filters in {context}"), e))?;
        names.extend(page.filter_names().iter().cloned());
    }
    let reads = futures_util::future::join_all(names.iter().map(|name| {
        let (client, detector_id, context) = (&client, &detector_id, &context);
        async move {
            let filter = client
                .get_filter()
                .detector_id(detector_id)
                .filter_name(name)
                .send()
                .await
                .map_err(|e| AwsError::new(format!("reading filter {name} in {context}"), e))?;
            Ok::<_, AwsError>(FilterState {
                name: filter.name().unwrap_or(name).to_string(),
                description: filter.description().unwrap_or_default().to_string(),
                action: filter
                    .action()
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_else(|| "NOOP".into()),
                rank: filter.rank().unwrap_or(i32::MAX),
                criteria: filter
                    .finding_criteria()
                    .map(criteria::document_of)
                    .unwrap_or_default(),
                tags: filter
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
            })
        }
    }))
    .await;
    let mut filters = reads.into_iter().collect::<Result<Vec<_>, _>>()?;
    filters.sort_by(|a, b| (a.rank, &a.name).cmp(&(b.rank, &b.name)));
    Ok(RegionFilters {
        detector_id: Some(detector_id),
        filters,
    })
}
