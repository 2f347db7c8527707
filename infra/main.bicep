// The Rapid Review bot in Azure, as the Microsoft 365 Agents Toolkit provisions it (m365agents.yml, `arm/deploy`):
//   - a user-assigned managed identity: the bot's identity for Teams (MicrosoftAppType=UserAssignedMSI: no client
//     secret anywhere), and how it reads Key Vault;
//   - App Service (Linux, Python 3.11, two instances, HTTPS only, health check on /readyz), or the container image
//     (Dockerfile) when `containerImage` is given;
//   - Azure Bot (the Teams channel) pointing at https://<app>/api/messages;
//   - Azure Database for PostgreSQL Flexible Server (TLS required), its DATABASE_URL kept in Key Vault;
//   - Key Vault (RBAC): the data-encryption master key (KEY_VAULT_URL / KEY_VAULT_SECRET, bot/adapters/master_keys.py),
//     the database URL and, if used, the Microsoft Graph certificate;
//   - Application Insights on a Log Analytics workspace.
// UK South by default. Step by step: docs/operations.md.

targetScope = 'resourceGroup'

@description('Base of every resource name (letters and digits, 3-16): e.g. escprr.')
@minLength(3)
@maxLength(16)
param resourceBaseName string

@description('Azure region. UK South by default: the data stays in the UK.')
param location string = 'uksouth'

@description('App Service plan size. P0v3 or larger for production (B1 has no zone redundancy and little memory).')
@allowed(['B1', 'B2', 'S1', 'P0v3', 'P1v3', 'P2v3'])
param appServiceSku string = 'P0v3'

@description('Instances of the bot. Two keep it answering through a restart; they share the database (outbox, leader lock).')
@minValue(1)
@maxValue(4)
param instanceCount int = 2

@description('Empty: run the code on App Service\'s Python 3.11 (deployed by the toolkit\'s zipDeploy). Else a container image built from the Dockerfile, e.g. <your registry>/rapid-review-bot:1.0.0 (pulled with the managed identity: grant it AcrPull).')
param containerImage string = ''

@description('Azure Bot pricing tier. F0 is free; Teams is a standard channel, so messages to it are not charged.')
@allowed(['F0', 'S1'])
param botSku string = 'F0'

@description('The partnership file, relative to the deployed code (App Service) or /app (container).')
param partnershipFile string = 'config/partnership.toml'

@description('PostgreSQL administrator login (the tables\' owner; see docs/data-protection.md for the bot\'s own role).')
param postgresAdminLogin string = 'rradmin'

@secure()
@description('PostgreSQL administrator password. Given at deployment only (the toolkit prompts, or a secure parameter); written to Key Vault inside DATABASE_URL, never to an app setting.')
param postgresAdminPassword string

@description('PostgreSQL compute. Burstable B1ms suits one partnership; General Purpose for zone-redundant high availability.')
param postgresSkuName string = 'Standard_B1ms'

@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param postgresSkuTier string = 'Burstable'

@description('Days of PostgreSQL point-in-time restore (7-35).')
@minValue(7)
@maxValue(35)
param postgresBackupRetentionDays int = 35

@description('Name of the Key Vault secret holding the master key (32 random bytes, base64). Created by the operator, never by this template: docs/operations.md.')
param masterKeySecretName string = 'rapid-review-master-key'

@description('Microsoft Graph (meetings): the Entra app id, empty to use the offline meeting provider.')
param graphClientId string = ''

@description('The mailbox that organises the meetings (GRAPH_ORGANISER).')
param graphOrganiser string = ''

@description('Thumbprint of the Graph certificate; the certificate itself is the Key Vault certificate `graph-certificate` (PEM).')
param graphCertificateThumbprint string = ''

@description('Tags on every resource.')
param tags object = {}

var suffix = uniqueString(resourceGroup().id, resourceBaseName)
var names = {
  identity: '${resourceBaseName}-identity'
  plan: '${resourceBaseName}-plan'
  site: '${resourceBaseName}-${suffix}'
  bot: '${resourceBaseName}-bot'
  vault: take('${resourceBaseName}kv${suffix}', 24)
  postgres: '${resourceBaseName}-pg-${suffix}'
  database: 'rapidreview'
  workspace: '${resourceBaseName}-logs'
  insights: '${resourceBaseName}-insights'
}
// Built-in role: Key Vault Secrets User (read secret values; certificates' private keys are read as secrets).
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var useGraph = !empty(graphClientId)

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: tags
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: names.workspace
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 90
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: names.insights
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableIpMasking: false
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: names.vault
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true // a deleted master key would make every case unreadable: it can be recovered
    publicNetworkAccess: 'Enabled'
  }
}

resource vaultReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2022-12-01' = {
  name: names.postgres
  location: location
  tags: tags
  sku: {
    name: postgresSkuName
    tier: postgresSkuTier
  }
  properties: {
    version: '16'
    administratorLogin: postgresAdminLogin
    administratorLoginPassword: postgresAdminPassword
    storage: { storageSizeGB: 32 }
    backup: {
      backupRetentionDays: postgresBackupRetentionDays
      geoRedundantBackup: 'Disabled' // a geo-redundant copy would leave the UK South / UK West pair only; see docs/operations.md
    }
    highAvailability: { mode: 'Disabled' }
    network: { publicNetworkAccess: 'Enabled' }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2022-12-01' = {
  parent: postgres
  name: names.database
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// Azure services only (the 0.0.0.0 rule): the bot's App Service. TLS is required by the server's defaults.
// For a private network instead, see docs/operations.md ("Network").
resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2022-12-01' = {
  parent: postgres
  name: 'AllowAzureServices'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

resource databaseUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'database-url'
  properties: {
    contentType: 'DATABASE_URL'
    value: 'postgresql://${postgresAdminLogin}:${uriComponent(postgresAdminPassword)}@${postgres.properties.fullyQualifiedDomainName}:5432/${names.database}?ssl=require'
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: names.plan
  location: location
  tags: tags
  kind: 'linux'
  sku: {
    name: appServiceSku
    capacity: instanceCount
  }
  properties: {
    reserved: true // Linux
  }
}

var keyVaultReference = '@Microsoft.KeyVault(VaultName=${vault.name};SecretName='
var appSettings = concat([
  { name: 'BOT_ENV', value: 'production' }
  { name: 'MicrosoftAppId', value: identity.properties.clientId }
  { name: 'MicrosoftAppType', value: 'UserAssignedMSI' }
  { name: 'MicrosoftAppTenantId', value: tenant().tenantId }
  { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId } // DefaultAzureCredential → Key Vault
  { name: 'KEY_VAULT_URL', value: vault.properties.vaultUri }
  { name: 'KEY_VAULT_SECRET', value: masterKeySecretName }
  { name: 'DATABASE_URL', value: '${keyVaultReference}database-url)' }
  { name: 'PARTNERSHIP_FILE', value: partnershipFile }
  { name: 'PUBLIC_BASE_URL', value: 'https://${names.site}.azurewebsites.net' } // the one-time file links
  { name: 'HOST', value: '0.0.0.0' }
  { name: 'PORT', value: '8000' }
  { name: 'WEBSITES_PORT', value: '8000' }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
  { name: 'SCM_DO_BUILD_DURING_DEPLOYMENT', value: empty(containerImage) ? 'true' : 'false' }
], useGraph ? [
  { name: 'GRAPH_CLIENT_ID', value: graphClientId }
  { name: 'GRAPH_TENANT_ID', value: tenant().tenantId }
  { name: 'GRAPH_ORGANISER', value: graphOrganiser }
  { name: 'GRAPH_CERTIFICATE', value: '${keyVaultReference}graph-certificate)' }
  { name: 'GRAPH_CERTIFICATE_THUMBPRINT', value: graphCertificateThumbprint }
] : [])

resource site 'Microsoft.Web/sites@2023-12-01' = {
  name: names.site
  location: location
  tags: union(tags, { 'azd-service-name': 'bot' })
  kind: empty(containerImage) ? 'app,linux' : 'app,linux,container'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: empty(containerImage) ? 'PYTHON|3.11' : 'DOCKER|${containerImage}'
      acrUseManagedIdentityCreds: !empty(containerImage)
      acrUserManagedIdentityID: empty(containerImage) ? null : identity.properties.clientId
      appCommandLine: empty(containerImage) ? 'python -m bot' : ''
      alwaysOn: true
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      healthCheckPath: '/readyz'
      appSettings: appSettings
    }
  }
  dependsOn: [vaultReader, databaseUrl]
}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: names.bot
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: { name: botSku }
  properties: {
    displayName: 'Rapid Review'
    endpoint: 'https://${site.properties.defaultHostName}/api/messages'
    msaAppId: identity.properties.clientId
    msaAppType: 'UserAssignedMSI'
    msaAppMSIResourceId: identity.id
    msaAppTenantId: tenant().tenantId
    disableLocalAuth: false
    publicNetworkAccess: 'Enabled'
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: { isEnabled: true }
  }
}

// Written by the toolkit into env/.env.<environment>: BOT_ID fills appPackage/manifest.json's ${{BOT_ID}}.
output BOT_ID string = identity.properties.clientId
output BOT_DOMAIN string = site.properties.defaultHostName
output BOT_ENDPOINT string = 'https://${site.properties.defaultHostName}/api/messages'
output BOT_AZURE_APP_SERVICE_RESOURCE_ID string = site.id
output KEY_VAULT_URL string = vault.properties.vaultUri
output KEY_VAULT_NAME string = vault.name
output POSTGRES_HOST string = postgres.properties.fullyQualifiedDomainName
output APPLICATION_INSIGHTS_NAME string = insights.name
