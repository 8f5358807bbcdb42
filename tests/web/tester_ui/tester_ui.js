// Reads /api/report the way matrix-org/fed-tester-ui's app.js does: whatever the status,
// the body is taken as a report. Each line it would render is an item of #out; anything
// thrown goes into #errors and the console, so the test sees it.
'use strict'

const lines = []
const say = (text) => lines.push(String(text))

function fail (error) {
  document.getElementById('errors').textContent += String(error) + '\n'
  console.error(error)
}
window.addEventListener('error', (event) => fail(event.message))
window.addEventListener('unhandledrejection', (event) => fail(event.reason))

// The UI's recursiveCheck: booleans are leaves, everything else goes through Object.keys.
function recursiveCheck (objectOrBool, path) {
  if (typeof objectOrBool === typeof true) {
    return !objectOrBool
  }
  let anyErrors = false
  Object.keys(objectOrBool).forEach((key) => {
    if (recursiveCheck(objectOrBool[key], path + '.' + key)) {
      anyErrors = true
    }
  })
  return anyErrors
}

function render (status, json) {
  say('status ' + status)
  Object.keys(json.ConnectionReports).forEach((ip) => {
    const report = json.ConnectionReports[ip]
    if (!report.Checks.ValidCertificates) {
      say('WARN: Could not find a valid certificate for ' + ip)
    }
    report.Errors.forEach((err) => say('ERROR: on ' + ip + ': ' + err.Message))
    say('checks ' + ip + (recursiveCheck(report.Checks, 'Checks') ? ' failed' : ' ok'))
  })
  if (Object.values(json.ConnectionReports).some((e) => !e.Checks.MatchingServerName)) {
    say('MatchingServerName warning')
  }
  const serverVersion = json.Version
  if (serverVersion === undefined) {
    say('This homeserver does not supply version information')
  } else if (serverVersion.error !== undefined) {
    say('version error: ' + serverVersion.error)
  } else {
    say('Homeserver version: ' + serverVersion.name + ' ' + serverVersion.version)
  }
  const reportCount = Object.keys(json.ConnectionReports).length
  say('Got ' + reportCount + ' connection reports')
  Object.keys(json.ConnectionErrors).forEach((ip) => {
    say('connection error ' + ip + ': ' + json.ConnectionErrors[ip].Message)
  })
  const dns = json.DNSResult
  if (dns.SRVSkipped) {
    say('no SRV lookup done')
  } else if (dns.SRVRecords == null) {
    say('No SRV records found')
  } else {
    say('DNS records for ' + dns.SRVCName)
    dns.SRVRecords.forEach((r) => say([r.Target, r.Port, r.Priority, r.Weight].join(' ')))
  }
  if (dns.Hosts) {
    Object.keys(dns.Hosts).forEach((host) => {
      say('host ' + host)
      if (dns.Hosts[host].Addrs != null) {
        dns.Hosts[host].Addrs.forEach((address) => say('address ' + address))
      }
      if (dns.Hosts[host].Error != null) {
        say('host error ' + dns.Hosts[host].Error.Message)
      }
    })
  }
  if (json.Error) {
    say('Error: ' + json.Error)
  }
  say('FederationOK ' + json.FederationOK)
}

async function main () {
  const params = new URLSearchParams(window.location.search)
  const url = new URL(params.get('api'))
  url.searchParams.set('server_name', params.get('server_name'))
  const res = await fetch(url.toString())
  const json = await res.json()
  render(res.status, json)
}

main().catch(fail).finally(() => {
  const out = document.getElementById('out')
  lines.forEach((line) => {
    const item = document.createElement('li')
    item.textContent = line
    out.appendChild(item)
  })
  document.getElementById('state').textContent = 'done'
})
