// A storage account that hosts an idp issuer: a container whose blobs (not listing) anyone
// may read, which is what Entra needs to fetch the discovery document and the JWKS.
//
//   az group create -n idp-issuer -l westeurope
//   az deployment group create -g idp-issuer -f deploy/issuer-storage.bicep \
//     -p accountName=<globally-unique-name>
//
// The `issuer` output is the URL to give `idp init --issuer` (and every FIC).

@description('Storage account name: 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param accountName string

@description('Container for the issuer documents (the issuer URL ends with it).')
@minLength(3)
@maxLength(63)
param containerName string = 'oidc'

param location string = resourceGroup().location

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: accountName
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // Anonymous read must be allowed at the account level, or no container can grant it.
    allowBlobPublicAccess: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Keys are not needed: idp publishes with an Entra login or a user-delegation SAS.
    allowSharedKeyAccess: false
  }
  tags: {
    purpose: 'OIDC issuer metadata for Entra workload identity federation (public, no secrets)'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: containerName
  properties: {
    // Read blobs by URL; no listing.
    publicAccess: 'Blob'
  }
}

@description('The issuer URL: give it to `idp init --issuer`, and use it byte for byte in every FIC.')
output issuer string = '${account.properties.primaryEndpoints.blob}${containerName}'
